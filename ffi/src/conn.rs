//! Connections: everything callable on a `wsx_conn`, including pull-mode
//! receive and how the connection ended.

use std::collections::VecDeque;
use std::ffi::c_char;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use wsx_core::net::{CloseInfo, Conn, Message};
use wsx_core::proto::CloseCode;

use crate::boundary::{
    Extensible, Failure, Outcome, arg, arg_bytes, check_sized_out, ffi_call, ffi_value, opt_str,
    write_c_string, write_sized,
};
use crate::callbacks::with_current_ctx;
use crate::events::{
    MsgKindArg, c_certs, c_string, wsx_cert, wsx_close_origin, wsx_msg_kind, wsx_state,
};
use crate::result::wsx_result;

/// A WebSocket connection, client or server side. Reference-counted: the
/// library holds one reference while the connection runs (the pointer passed
/// to callbacks is that one, the same for every callback of a connection);
/// `wsx_loop_connect` and `wsx_conn_retain` give the caller one more each, released
/// with `wsx_conn_release`. Every function on it may be called from any thread.
pub struct wsx_conn {
    pub(crate) conn: Conn,
    /// Pull mode: messages taken from the core's inbox and not yet copied out
    /// in full, oldest first (the one `wsx_conn_recv` is part-way through).
    /// Never locked while waiting for a message.
    partial: Mutex<VecDeque<Partial>>,
    /// How the connection ended, converted for C once.
    close_info: OnceLock<OwnedCloseInfo>,
    /// The client certificate (mutual TLS), converted for C once.
    peer_identity: OnceLock<OwnedPeerIdentity>,
}

/// A received message not yet copied out in full.
struct Partial {
    message: Message,
    /// Bytes already copied out.
    taken: usize,
}

impl wsx_conn {
    pub(crate) fn new(conn: Conn) -> wsx_conn {
        wsx_conn {
            conn,
            partial: Mutex::new(VecDeque::new()),
            close_info: OnceLock::new(),
            peer_identity: OnceLock::new(),
        }
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

/// Takes one more reference to `conn` and returns it (the same pointer), so
/// a connection passed to a callback can be kept past the callback. Release
/// it with `wsx_conn_release`. Returns NULL for NULL.
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

/// Releases one reference to `conn` (from `wsx_loop_connect` or
/// `wsx_conn_retain`); the connection is freed with its last reference. It does not close the connection: call
/// `wsx_conn_close` for that. Callable from any thread and from inside any
/// callback, also this connection's own. NULL is a no-op.
///
/// # Safety
/// `conn` is NULL or a reference the caller owns, released once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_release(conn: *mut wsx_conn) {
    ffi_value((), || {
        if !conn.is_null() {
            // SAFETY: the caller owns this reference and gives it up.
            drop(unsafe { Arc::from_raw(conn.cast_const()) });
        }
    })
}

/// Sends a message (`WSX_MSG_KIND_TEXT` data must be UTF-8); `data` is no
/// longer needed once this returns (NULL is allowed when `len` is 0).
/// Returns `WSX_ERR_CLOSED` once the close handshake began or the connection
/// ended (never a crash); when it ended by a failure, the message
/// (`wsx_last_error_message`) names it, e.g. "it ended with an I/O error:
/// ..." for a peer that dropped the connection. `WSX_ERR_WOULD_BLOCK` past
/// the high-water mark (`on_writable` follows once it drained; or use
/// `wsx_conn_send_timeout` off the loop thread). From inside this
/// connection's own callback the message goes straight into its buffer (a
/// large one with nothing queued before it, straight to the socket); from
/// elsewhere it is copied, queued and the loop is woken. Same as
/// `wsx_conn_send_ex` with no flags.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send(
    conn: *const wsx_conn,
    kind: MsgKindArg,
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
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    flags: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let kind = kind.to_core()?;
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

/// Sends one piece (one frame) of a fragmented message: the first call
/// opens a message of `kind`, later calls continue it with the same `kind`,
/// and the call with `fin` true ends it; the peer receives one message.
/// `data` is copied (NULL is allowed when `len` is 0). Checked before
/// anything is queued, like `wsx_conn_send` (`WSX_ERR_CLOSED`,
/// `WSX_ERR_WOULD_BLOCK`: send the same piece again later), and by the
/// fragment rules, refused with `WSX_ERR_INVALID_ARGUMENT`: while a message
/// is open, `wsx_conn_send` (and `_ex`, `_timeout`) and a piece of another
/// kind; text that is not UTF-8 across the pieces (a character may be split
/// between two pieces; the last may not end inside one). Pings and the
/// close may be sent in between. With permessage-deflate the message is
/// compressed. Same as `wsx_conn_send_fragment_ex` with no flags.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send_fragment(
    conn: *const wsx_conn,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    fin: bool,
) -> wsx_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { wsx_conn_send_fragment_ex(conn, kind, data, len, fin, 0) }
}

/// `wsx_conn_send_fragment` with `flags` (`WSX_SEND_NO_COMPRESS` on the
/// first piece sends the whole message uncompressed; later pieces' flags
/// are ignored). Unknown flags are refused with `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send_fragment_ex(
    conn: *const wsx_conn,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    fin: bool,
    flags: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let kind = kind.to_core()?;
            if flags & !WSX_SEND_NO_COMPRESS != 0 {
                return Err(Failure::invalid(format!("unknown send flags {flags:#x}")));
            }
            let compress = flags & WSX_SEND_NO_COMPRESS == 0;
            let data = arg_bytes(data, len, "data")?;
            with_current_ctx(conn, |ctx| ctx.send_fragment(kind, data, fin, compress))
                .unwrap_or_else(|| handle.conn.send_fragment(kind, data, fin, compress))?;
            Ok(())
        })
    }
}

/// Drops the connection at once, without a close handshake (nothing more is
/// sent or received): the close callback follows with 1006 and origin
/// `WSX_CLOSE_ORIGIN_TRANSPORT` (unless close frames were already
/// exchanged), pending `wsx_conn_recv_timeout` calls return, and a
/// reconnecting client stops. The peer sees the transport close (1006).
/// `WSX_ERR_CLOSED` once the connection is closed. From any thread,
/// callbacks included.
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_abort(conn: *const wsx_conn) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { with_conn(conn, |handle| Ok(handle.conn.abort()?)) }
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
/// a UTF-8 `reason` of at most 123 bytes (NULL: none), or with 1005 and no
/// reason for a close frame without a code. The close callback
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
        // SAFETY: the caller's promise.
        unsafe { conn.as_ref() }.map_or(0, |handle| handle.conn.id())
    })
}

/// The connection's state (`WSX_STATE_CLOSED` for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_state(conn: *const wsx_conn) -> wsx_state {
    ffi_value(wsx_state::WSX_STATE_CLOSED, || {
        // SAFETY: the caller's promise.
        unsafe { conn.as_ref() }.map_or(wsx_state::WSX_STATE_CLOSED, |handle| {
            wsx_state::from_core(handle.conn.state())
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
        // SAFETY: the caller's promise.
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
        // SAFETY: the caller's promise.
        unsafe { conn.as_ref() }.map_or(-1, |handle| crate::events::micros(handle.conn.rtt()))
    })
}

/// Writes the peer's address ("ip:port"; over a Unix domain socket "unix:"
/// and the path, see `wsx_open.peer_addr`) and a NUL into `out_buf` of
/// `buf_len` bytes (64 suffice for an IP address, 128 for a socket's path). `WSX_ERR_STATE` before the peer is
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

/// A timeout in ms as C passes it: negative waits as long as it takes.
fn timeout(ms: i32) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// `wsx_conn_send_ex` that, past the high-water mark, waits up to
/// `timeout_ms` (negative: as long as it takes) for the send queue to drain
/// below the low-water mark instead of returning `WSX_ERR_WOULD_BLOCK`.
/// `WSX_ERR_TIMEOUT` when the time passes first, `WSX_ERR_CLOSED` when the
/// connection ends meanwhile. For threads other than the loop's: from inside
/// a callback it returns `WSX_ERR_STATE` (the loop could not drain the queue
/// while it waits). To wait without blocking a thread, send with
/// `wsx_conn_send_ex` and send again from `on_writable`.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send_timeout(
    conn: *const wsx_conn,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    flags: u32,
    timeout_ms: i32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let kind = kind.to_core()?;
            if flags & !WSX_SEND_NO_COMPRESS != 0 {
                return Err(Failure::invalid(format!("unknown send flags {flags:#x}")));
            }
            not_in_callback("wsx_conn_send_timeout")?;
            let data = arg_bytes(data, len, "data")?;
            let compress = flags & WSX_SEND_NO_COMPRESS == 0;
            handle
                .conn
                .send_timeout(kind, data, compress, timeout(timeout_ms))?;
            Ok(())
        })
    }
}

/// Refuses a blocking call from inside a callback of the library.
fn not_in_callback(name: &str) -> Outcome {
    if crate::callbacks::in_callback() {
        return Err(Failure::state(format!(
            "{name} would block the loop: it cannot be called from inside a callback"
        )));
    }
    Ok(())
}

/// What `wsx_conn_recv` copied out. Extensible: set `struct_size =
/// sizeof(wsx_received)` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_received {
    /// `sizeof(wsx_received)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// Text or binary (text: UTF-8 once the whole message is put together;
    /// a piece may end inside a character).
    pub kind: wsx_msg_kind,
    /// Bytes copied into the buffer by this call.
    pub len: usize,
    /// Bytes of the message still to come, taken by the next calls.
    pub remaining: usize,
    /// Whether this call copied the message's last byte (`remaining` is 0).
    pub end_of_message: bool,
}

// SAFETY: repr(C), `struct_size` first; the library writes it, never reads
// more than the size.
unsafe impl Extensible for wsx_received {
    const NAME: &'static str = "wsx_received";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_received, len);
    fn base() -> Self {
        wsx_received {
            struct_size: 0,
            kind: wsx_msg_kind::WSX_MSG_KIND_BINARY,
            len: 0,
            remaining: 0,
            end_of_message: false,
        }
    }
}

impl wsx_conn {
    /// Copies the next bytes of the message under way, or of the next one
    /// `take` gives, into `buf`. `take` may wait: no lock is held meanwhile,
    /// so a non-blocking receive on the loop's thread never waits for it.
    fn recv_into(
        &self,
        buf: &mut [u8],
        take: impl FnOnce(&Conn) -> Result<Message, wsx_core::net::Error>,
    ) -> Outcome<wsx_received> {
        let lock = || self.partial.lock().unwrap_or_else(PoisonError::into_inner);
        if lock().is_empty() {
            let message = take(&self.conn)?;
            lock().push_back(Partial { message, taken: 0 });
        }
        let mut partial = lock();
        let Some(current) = partial.front_mut() else {
            // Another receiver took it meanwhile (one receiver at a time is
            // the rule): nothing for this one yet.
            return Err(Failure::new(
                wsx_result::WSX_ERR_WOULD_BLOCK,
                "no message is waiting",
            ));
        };
        let rest = &current.message.data[current.taken..];
        let len = rest.len().min(buf.len());
        buf[..len].copy_from_slice(&rest[..len]);
        current.taken += len;
        let remaining = current.message.data.len() - current.taken;
        let received = wsx_received {
            struct_size: 0,
            kind: wsx_msg_kind::from_core(current.message.kind),
            len,
            remaining,
            end_of_message: remaining == 0,
        };
        if remaining == 0 {
            partial.pop_front();
        }
        Ok(received)
    }
}

/// The caller's receive buffer: NULL is allowed with `cap` 0.
///
/// # Safety
/// `buf` is NULL or has `cap` writable bytes, unused elsewhere during `'a`.
unsafe fn recv_buffer<'a>(buf: *mut u8, cap: usize) -> Outcome<&'a mut [u8]> {
    if buf.is_null() {
        return if cap == 0 {
            Ok(&mut [])
        } else {
            Err(Failure::new(
                wsx_result::WSX_ERR_NULL,
                format!("buf is NULL but cap is {cap}"),
            ))
        };
    }
    // SAFETY: the caller's promise.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, cap) })
}

/// Pull mode (`wsx_conn_options_set_inbox`): copies up to `cap` bytes of the
/// oldest received message into `buf` without waiting, and describes them
/// in `*out` (`struct_size` set by the caller). A message longer than `cap`
/// comes in pieces over several calls: `out->end_of_message` is false and
/// `out->remaining` tells how much follows; the next call continues it
/// (`cap` 0, with `buf` NULL, tells the kind and size of the next message
/// without copying). Messages come whole and in order; one thread at a
/// time should receive from a connection.
///
/// Returns `WSX_ERR_WOULD_BLOCK` when no message waits (`on_readable` tells
/// when one arrives); `WSX_ERR_CLOSED` once the connection ended and every
/// message that arrived before the end was taken (`wsx_conn_close_info`
/// tells how it ended); `WSX_ERR_INVALID_ARGUMENT` on a connection without
/// an inbox. `*out` is written only on success. Callable from any thread,
/// also from inside a callback.
///
/// # Safety
/// `conn` is NULL or live; `buf` is NULL or has `cap` writable bytes; `out`
/// is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_recv(
    conn: *const wsx_conn,
    buf: *mut u8,
    cap: usize,
    out: *mut wsx_received,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let buf = recv_buffer(buf, cap)?;
            // Checked before a message is taken, so none is lost to a bad `out`.
            check_sized_out(out, "out")?;
            let received = handle.recv_into(buf, Conn::recv)?;
            write_sized(out, received, "out")
        })
    }
}

/// `wsx_conn_recv` that waits up to `timeout_ms` (negative: as long as it
/// takes) for a message; `WSX_ERR_TIMEOUT` when none came in time. The rest
/// of a message under way is returned at once. For threads other than the
/// loop's: from inside a callback it returns `WSX_ERR_STATE`.
///
/// # Safety
/// As `wsx_conn_recv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_recv_timeout(
    conn: *const wsx_conn,
    buf: *mut u8,
    cap: usize,
    timeout_ms: i32,
    out: *mut wsx_received,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let buf = recv_buffer(buf, cap)?;
            check_sized_out(out, "out")?;
            not_in_callback("wsx_conn_recv_timeout")?;
            let received = handle.recv_into(buf, |conn| conn.recv_timeout(timeout(timeout_ms)))?;
            write_sized(out, received, "out")
        })
    }
}

/// Pull mode: how many received messages wait in the inbox, not counting
/// one `wsx_conn_recv` is part-way through (0 without an inbox, or for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_inbox_len(conn: *const wsx_conn) -> usize {
    ffi_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { conn.as_ref() }.map_or(0, |handle| handle.conn.inbox_len())
    })
}

/// How a connection ended, written by `wsx_conn_close_info`. Extensible:
/// set `struct_size = sizeof(wsx_close_info)` before the call. The strings
/// are NUL-terminated, owned by the connection and valid while the caller
/// holds a reference to it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_close_info {
    /// `sizeof(wsx_close_info)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// The code the close event reported: the peer's, ours if we failed the
    /// connection, or 1006 when no close frame passed.
    pub code: u16,
    /// The reason that went with `code` (UTF-8; see `reason_len`).
    pub reason: *const c_char,
    /// The reason's length in bytes, without the NUL.
    pub reason_len: usize,
    /// Whether both close frames passed before the transport closed.
    pub clean: bool,
    /// Whether both sides closed with 1000, 1001 or 1005.
    pub normal: bool,
    /// Who began the close.
    pub origin: wsx_close_origin,
    /// The code of the close frame we sent, 0 if none.
    pub sent_code: u16,
    /// The reason of the close frame we sent ("" if none).
    pub sent_reason: *const c_char,
    /// The length of `sent_reason`.
    pub sent_reason_len: usize,
    /// The code of the peer's close frame, 0 if none.
    pub rcvd_code: u16,
    /// The reason of the peer's close frame ("" if none).
    pub rcvd_reason: *const c_char,
    /// The length of `rcvd_reason`.
    pub rcvd_reason_len: usize,
}

// SAFETY: repr(C), `struct_size` first; the library writes it, never reads
// more than the size.
unsafe impl Extensible for wsx_close_info {
    const NAME: &'static str = "wsx_close_info";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_close_info, reason);
    fn base() -> Self {
        wsx_close_info {
            struct_size: 0,
            code: 0,
            reason: std::ptr::null(),
            reason_len: 0,
            clean: false,
            normal: false,
            origin: wsx_close_origin::WSX_CLOSE_ORIGIN_TRANSPORT,
            sent_code: 0,
            sent_reason: std::ptr::null(),
            sent_reason_len: 0,
            rcvd_code: 0,
            rcvd_reason: std::ptr::null(),
            rcvd_reason_len: 0,
        }
    }
}

/// The core's close info with its strings NUL-terminated for C.
struct OwnedCloseInfo {
    info: CloseInfo,
    /// `reason`, sent reason, received reason, each with a NUL.
    strings: [Vec<u8>; 3],
}

impl OwnedCloseInfo {
    fn new(info: CloseInfo) -> OwnedCloseInfo {
        let nul = |text: &str| {
            let mut bytes = Vec::with_capacity(text.len() + 1);
            bytes.extend_from_slice(text.as_bytes());
            bytes.push(0);
            bytes
        };
        let frame = |f: &Option<(CloseCode, String)>| nul(f.as_ref().map_or("", |(_, r)| r));
        let strings = [nul(&info.reason), frame(&info.sent), frame(&info.rcvd)];
        OwnedCloseInfo { info, strings }
    }

    fn to_c(&self) -> wsx_close_info {
        let code = |f: &Option<(CloseCode, String)>| f.as_ref().map_or(0, |(c, _)| c.0);
        let [reason, sent, rcvd] = &self.strings;
        wsx_close_info {
            struct_size: 0,
            code: self.info.code.0,
            reason: reason.as_ptr().cast(),
            reason_len: reason.len() - 1,
            clean: self.info.clean,
            normal: self.info.normal,
            origin: wsx_close_origin::from_core(self.info.origin),
            sent_code: code(&self.info.sent),
            sent_reason: sent.as_ptr().cast(),
            sent_reason_len: sent.len() - 1,
            rcvd_code: code(&self.info.rcvd),
            rcvd_reason: rcvd.as_ptr().cast(),
            rcvd_reason_len: rcvd.len() - 1,
        }
    }
}

/// Writes how the connection ended to `*out` (`struct_size` set by the
/// caller): available from just before the close callback runs, and after
/// it. `WSX_ERR_STATE` while the connection has not ended (nothing is
/// written). Callable from any thread.
///
/// # Safety
/// `conn` is NULL or live; `out` is NULL or has `out->struct_size` writable
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_close_info(
    conn: *const wsx_conn,
    out: *mut wsx_close_info,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            check_sized_out(out, "out")?;
            let owned = match handle.close_info.get() {
                Some(owned) => owned,
                None => {
                    let info = handle
                        .conn
                        .close_info()
                        .ok_or_else(|| Failure::state("the connection has not ended"))?;
                    handle.close_info.get_or_init(|| OwnedCloseInfo::new(info))
                }
            };
            write_sized(out, owned.to_c(), "out")
        })
    }
}

/// Mutual TLS: the certificate the client of a server's connection
/// presented, written by `wsx_conn_peer_identity`. Extensible: set
/// `struct_size = sizeof(wsx_peer_identity)` before the call. Everything is
/// owned by the connection and valid while the caller holds a reference to
/// it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_peer_identity {
    /// `sizeof(wsx_peer_identity)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// The subject of the verified client certificate, RFC 4514 text, most
    /// specific first (`CN=alice,O=Example`); NULL when the client sent no
    /// certificate (or without TLS, or on a client connection).
    pub subject: *const c_char,
    /// The certificate chain as the client sent it, leaf first (NULL: none).
    pub certs: *const wsx_cert,
    /// The number of entries in `certs`.
    pub certs_len: usize,
}

// SAFETY: repr(C), `struct_size` first; the library writes it, never reads
// more than the size.
unsafe impl Extensible for wsx_peer_identity {
    const NAME: &'static str = "wsx_peer_identity";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_peer_identity, certs);
    fn base() -> Self {
        wsx_peer_identity {
            struct_size: 0,
            subject: std::ptr::null(),
            certs: std::ptr::null(),
            certs_len: 0,
        }
    }
}

/// The core's peer identity with its subject NUL-terminated and its chain as
/// `wsx_cert`s for C.
struct OwnedPeerIdentity {
    /// The subject, NUL-terminated (None: no certificate).
    subject: Option<std::ffi::CString>,
    /// The chain, owned here; `certs` points into it.
    _chain: Vec<Vec<u8>>,
    certs: Vec<wsx_cert>,
}

// SAFETY: `certs` only points into `_chain`, owned by the same value and
// never changed: sharing or sending it shares or sends owned bytes.
unsafe impl Send for OwnedPeerIdentity {}
// SAFETY: as above (read-only after construction).
unsafe impl Sync for OwnedPeerIdentity {}

impl OwnedPeerIdentity {
    fn new(conn: &Conn) -> OwnedPeerIdentity {
        let Some(identity) = conn.peer_identity() else {
            return OwnedPeerIdentity {
                subject: None,
                _chain: Vec::new(),
                certs: Vec::new(),
            };
        };
        let chain = identity.chain.clone();
        let certs = c_certs(&chain);
        OwnedPeerIdentity {
            subject: Some(c_string(&identity.subject)),
            _chain: chain,
            certs,
        }
    }

    fn to_c(&self) -> wsx_peer_identity {
        wsx_peer_identity {
            struct_size: 0,
            subject: self
                .subject
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
            certs: if self.certs.is_empty() {
                std::ptr::null()
            } else {
                self.certs.as_ptr()
            },
            certs_len: self.certs.len(),
        }
    }
}

/// Writes the client certificate of a server's connection (mutual TLS, see
/// `wsx_server_options_set_tls_client_auth`) to `*out` (`struct_size` set by
/// the caller): its subject and chain, or `subject` NULL and no chain when
/// the client sent none, without TLS, and on client connections (still
/// `WSX_OK`). Known from the upgrade callback on; callable from any thread.
///
/// # Safety
/// `conn` is NULL or live; `out` is NULL or has `out->struct_size` writable
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_peer_identity(
    conn: *const wsx_conn,
    out: *mut wsx_peer_identity,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            check_sized_out(out, "out")?;
            let owned = handle
                .peer_identity
                .get_or_init(|| OwnedPeerIdentity::new(&handle.conn));
            write_sized(out, owned.to_c(), "out")
        })
    }
}
